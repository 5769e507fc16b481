/**
 * Test certificates made with the system's `openssl` at test time (CA, server, clients, a revoked client
 * with the CA's CRL, a client of an untrusted CA): the server package's generator, shared so both
 * suites test against the same PKI layout.
 */
export { type CertPair, generateTestPki, type TestPki } from '../../../packages/server/test/tls-certs.js';
