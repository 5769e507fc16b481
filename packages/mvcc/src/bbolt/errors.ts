/** The error every bbolt parse failure raises, so callers can tell a bad file from an I/O or bug. */

/**
 * A bbolt file that is not well formed: bad meta pages, an offset outside its page or file, a page
 * of the wrong type, a cycle, keys out of order. `message` names the page and what was wrong.
 *
 * @example
 * ```ts
 * try { BboltReader.fromBytes(bytes); } catch (e) { if (e instanceof BboltFormatError) console.error(e.message); }
 * ```
 */
export class BboltFormatError extends Error {
  override name = 'BboltFormatError';
}

/**
 * The writer was given input bbolt cannot hold: keys out of order or duplicated, an empty or oversized
 * key, or a source that changed between the writer's planning and writing passes.
 *
 * @example
 * ```ts
 * await collectBbolt([{ name: 'b', entries: () => [[enc('z'), v], [enc('a'), v]] }]); // throws BboltWriteError
 * ```
 */
export class BboltWriteError extends Error {
  override name = 'BboltWriteError';
}
