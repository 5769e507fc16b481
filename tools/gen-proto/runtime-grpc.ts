// biome-ignore-all lint/correctness/noUnusedVariables: template copied into generated files.
// gRPC glue, copied by tools/gen-proto.mjs into generated files that contain services (needs Node's Buffer).

/** Wraps encoded bytes as a Buffer without copying (grpc-js serializers must return Buffers). */
function asBuffer(b: Uint8Array): Buffer {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/** Shape of one method in a grpc-js `ServiceDefinition`. */
export interface GrpcMethodDefinition<Req, Res> {
  readonly path: string;
  readonly requestStream: boolean;
  readonly responseStream: boolean;
  readonly requestSerialize: (value: Req) => Buffer;
  readonly requestDeserialize: (bytes: Buffer) => Req;
  readonly responseSerialize: (value: Res) => Buffer;
  readonly responseDeserialize: (bytes: Buffer) => Res;
  readonly originalName: string;
}
