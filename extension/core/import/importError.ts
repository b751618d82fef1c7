/** A model folder the importer cannot use. The message names the file and the tensor or field, what was
 *  expected and what was found, and what to do. */
export class ImportError extends Error {
  override name = 'ImportError';
}
