/**
 * The API reference (docs/api.md) is generated from the TSDoc; this keeps it current and keeps an
 * `@example` on every public export.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { collect, missingExamples, render } from '../scripts/api-docs.mjs';

describe('API reference', () => {
  const entries = collect();

  it('every public export has an @example', () => {
    expect(missingExamples(entries)).toEqual([]);
  });

  it('docs/api.md is what scripts/api-docs.mjs generates', () => {
    const current = readFileSync(resolve(import.meta.dirname, '..', 'docs', 'api.md'), 'utf8');
    expect(current).toBe(render(entries));
  });
});
