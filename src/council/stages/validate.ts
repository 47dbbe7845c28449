import type { z } from 'zod';

export class InvalidOutputError extends Error {}

/**
 * Every agent output is validated before it is used, offline agents included: invalid output never
 * reaches risk or execution.
 */
export function parseAgentOutput<T>(what: string, schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
  throw new InvalidOutputError(`invalid ${what}: ${problems.join('; ')}`);
}
