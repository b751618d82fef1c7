/** A model folder the importer cannot use. The message names the file and the tensor or field, what was
 *  expected and what was found, and what to do. */
export class ImportError extends Error {
  override name = 'ImportError';
}

/** Weights that hold NaN or Inf, refused unless the import allows them (allowNonFinite; the CLI's
 *  --allow-non-finite): the caller may ask the user and import again with them allowed. */
export class NonFiniteWeightsError extends ImportError {
  override name = 'NonFiniteWeightsError';
}
