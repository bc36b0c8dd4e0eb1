// Imported into every test file by npm test (node --test --import): once the
// file's tests and hooks are done, whatever the harness started and nobody
// stopped is killed, so that the file can end (harness/process.mts).
import { after } from 'node:test';
import { killLeftovers } from './process.mts';

after(killLeftovers);
