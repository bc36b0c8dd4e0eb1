// Imported into every test file by npm test (node --test --import): once the
// file's tests and hooks are done, whatever the harness started and nobody
// stopped is killed (harness/process.mts). What runs inside the test process
// (a receiver, a stand-in) and a failed hook left open would keep the file
// alive until CI's timeout: --test-force-exit ends the file instead.
import { after } from 'node:test';
import { killLeftovers } from './process.mts';

after(killLeftovers);
