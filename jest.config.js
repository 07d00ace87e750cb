/** Tests: test/unit (pure), test/workflows (time-skipping server, mocked activities), test/integration (real stack). */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' } }] },
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  setupFiles: ['<rootDir>/test/support/load-stack-env.ts'],
  testTimeout: 60_000,
  // A test that fails half-way can leave a Temporal worker polling a torn-down server; never let that hang CI.
  forceExit: true,
  slowTestThreshold: 30,
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
};
