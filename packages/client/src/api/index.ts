/** Generated etcd v3 API codecs (see proto/). */
export {};
