// Zod building blocks of every shared schema. Float32Arrays cross to the engine process and to the
// webview as they are (structured clone), never as JSON numbers, so a schema checks their class.

import { z } from 'zod';

/** A token, layer or head index, or a count: a whole number, 0 or more. */
export const indexSchema = z.number().int().nonnegative();

export const float32ArraySchema = z.custom<Float32Array>((value) => value instanceof Float32Array, 'expected a Float32Array');
