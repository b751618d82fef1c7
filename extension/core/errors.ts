// The errors this project raises on purpose, in one module light enough for every bundle (the
// host's must carry neither the engine nor the importer). An error thrown in the engine process or
// a worker thread reaches the host as the same class (shared/requests.ts rebuilds it from
// ERROR_CLASSES), so the host tells them apart with instanceof.

/** The host cancelled an engine request (the engine process is stopped with it). */
export class CancelledError extends Error {
  override name = 'CancelledError';
  constructor() {
    super('the inspection was cancelled');
  }
}

/** A newer request replaced this one before it was done: a new inspection the run's outlier
 *  statistics, a newer flow request an older one. */
export class SupersededError extends Error {
  override name = 'SupersededError';
  constructor(message = 'a newer inspection replaced this one before its statistics were done') {
    super(message);
  }
}

export class EmptyTextError extends Error {
  override name = 'EmptyTextError';
}

/** A run whose outputs hold NaN or Inf. `layer` is the first layer whose hidden states hold one
 *  (null: the hidden states are finite and only the logits are not). */
export class NonFiniteError extends Error {
  override name = 'NonFiniteError';
  constructor(
    message: string,
    readonly layer: number | null,
  ) {
    super(message);
  }
}

/** The package has no logit lens graph (lens.onnx): it was exported before the lens. */
export class LensUnavailableError extends Error {
  override name = 'LensUnavailableError';
}

/** The package has no contributions graph (contributions.onnx): it was exported or imported before it. */
export class ContributionsUnavailableError extends Error {
  override name = 'ContributionsUnavailableError';
}

/** A package the extension cannot use. The message names the file, the field and what was expected. */
export class PackageError extends Error {
  override name = 'PackageError';
}

/** A tokenizer.json this project cannot use. The message names the field and what was expected. */
export class TokenizerFormatError extends Error {
  override name = 'TokenizerFormatError';
}

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

/** The import was cancelled through its AbortSignal. */
export class ImportCancelledError extends Error {
  override name = 'ImportCancelledError';
}

/** Every class above by the name its instances carry: what a channel rebuilds errors as. */
export const ERROR_CLASSES = {
  CancelledError,
  SupersededError,
  EmptyTextError,
  NonFiniteError,
  LensUnavailableError,
  ContributionsUnavailableError,
  PackageError,
  TokenizerFormatError,
  ImportError,
  NonFiniteWeightsError,
  ImportCancelledError,
} as const;
