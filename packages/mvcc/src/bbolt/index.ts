/**
 * bbolt's file format (go.etcd.io/bbolt), read and written without bbolt: the format of etcd's backend
 * and of `etcdctl snapshot save` files. Pure format code: nothing here knows about kv or etcd.
 */
export { BboltFormatError, BboltWriteError } from './errors.js';
export { type BboltMeta, compareBytes as compareBboltKeys } from './format.js';
export { BboltBucket, type BboltItem, BboltReader } from './reader.js';
export {
  type BboltBucketSource,
  type BboltEntry,
  type BboltPagesOptions,
  BboltPlan,
  type BboltWriteOptions,
  collectBbolt,
  planBbolt,
} from './writer.js';
