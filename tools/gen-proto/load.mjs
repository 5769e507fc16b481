// Loads .proto files into a protobufjs Root, resolving imports the way protoc does with `-I proto`.
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import protobuf from 'protobufjs';

/**
 * Parses `files` (absolute paths) and everything they import.
 * An import is looked up next to the importing file first, then under each include root
 * (the repository's `proto/` directory), so `import "etcd/mvccpb/kv.proto";` works from anywhere.
 * @param {string[]} files
 * @param {string[]} includeRoots
 * @returns {import('protobufjs').Root}
 */
export function loadProtos(files, includeRoots) {
  const root = new protobuf.Root();
  root.resolvePath = (origin, target) => {
    if (isAbsolute(target)) return target;
    if (origin) {
      const sibling = resolve(dirname(origin), target);
      if (existsSync(sibling)) return sibling;
    }
    for (const inc of includeRoots) {
      const candidate = join(inc, target);
      if (existsSync(candidate)) return candidate;
    }
    throw new Error(`cannot resolve import "${target}" from ${origin || '(command line)'}`);
  };
  root.loadSync(files, { keepCase: true, alternateCommentMode: true });
  root.resolveAll();
  return root;
}
