import { expect, it } from 'vitest';
import { runCounterCluster } from '../examples/replicated-counter.js';

it('the README example (replicated counter) converges on every replica', () => {
  expect(runCounterCluster()).toEqual([55, 55, 55]);
});
