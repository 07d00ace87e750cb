import { loadStackEnv } from '../../src/infra/env';

loadStackEnv();
