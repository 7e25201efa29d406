/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test', '<rootDir>/gateway', '<rootDir>/adapters', '<rootDir>/consent'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.(t|j)s$': ['@swc/jest', { jsc: { target: 'es2022' }, module: { type: 'commonjs' } }],
  },
  // fhir-kit-client 2 ships ESM only; jest runs CommonJS, so it is transformed like our own code.
  transformIgnorePatterns: ['/node_modules/(?!fhir-kit-client/)'],
  moduleNameMapper: { '^fhir-kit-client$': '<rootDir>/node_modules/fhir-kit-client/dist/index.js' },
  testTimeout: 30000,
  maxWorkers: 2,
};
