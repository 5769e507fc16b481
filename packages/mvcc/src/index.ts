/** Public API of this package; filled in by its implementation. */
export const PACKAGE_NAME = '@kv/mvcc';
