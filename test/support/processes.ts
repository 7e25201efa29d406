import { readFileSync } from 'node:fs';

/**
 * The child processes of this one, as Linux lists them under the thread that forked them (node
 * forks on its main thread); none where /proc does not tell.
 */
export function childPids(): number[] {
  try {
    return readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}
