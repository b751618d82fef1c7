// Zod building blocks of every shared schema. Float32Arrays cross to the engine process and to the
// webview as they are (structured clone), never as JSON numbers, so a schema checks their class.

import { z } from 'zod';

/** A token, layer or head index, or a count: a whole number, 0 or more. */
export const indexSchema = z.number().int().nonnegative();

export const float32ArraySchema = z.custom<Float32Array>((value) => value instanceof Float32Array, 'expected a Float32Array');

/** `data` as `schema` reads it; otherwise throws the error `fail` makes of the first problem: the
 *  field's path (dotted, '(root)' for the value itself) and what is wrong with it. */
export function parseOrThrow<T>(schema: z.ZodType<T>, data: unknown, fail: (field: string, problem: string) => Error): T {
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  throw fail(issue.path.join('.') || '(root)', issue.message);
}
