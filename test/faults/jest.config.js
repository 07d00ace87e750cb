/** The full fault suite (`npm run test:faults`): *.fault.ts and *.test.ts under test/faults, each on a private stack. */
module.exports = {
  rootDir: '../..',
  testEnvironment: 'node',
  roots: ['<rootDir>/test/faults'],
  testMatch: ['**/*.fault.ts', '**/*.test.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' } }] },
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  setupFiles: ['<rootDir>/test/support/load-stack-env.ts'],
  testTimeout: 240_000,
  // A fault test that fails half-way leaves clients (a writer's pool, a Temporal connection) open: never hang the run.
  forceExit: true,
  slowTestThreshold: 120,
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
};
