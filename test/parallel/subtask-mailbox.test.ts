/**
 * A worker thread that hosts several subtasks takes the calling thread's messages for all of
 * them from the start; a subtask still building its job gets what came for it once it listens,
 * in order, and stop reaches every subtask.
 */

import { describe, expect, it } from 'vitest';
import { SubtaskMailbox, type SubtaskMessage } from '../../ts/runtime/subtask-mailbox.js';

describe('the mailbox of the subtasks a worker thread hosts', () => {
  it('keeps what comes before a subtask listens, in order, and hands it over when it does', () => {
    const box = new SubtaskMailbox([0, 2]);
    const got: Record<number, SubtaskMessage[]> = { 0: [], 2: [] };
    box.deliver({ t: 'trigger', id: 1, subtask: 2 });
    box.deliver({ t: 'trigger', id: 1, subtask: 0 });
    box.listen(0, (m) => got[0]!.push(m));
    expect(got[0]).toEqual([{ t: 'trigger', id: 1, subtask: 0 }]);
    box.deliver({ t: 'complete', id: 1, subtask: 2 });
    box.deliver({ t: 'stop' });
    expect(got[2]).toEqual([]);
    box.listen(2, (m) => got[2]!.push(m));
    expect(got[2]).toEqual([{ t: 'trigger', id: 1, subtask: 2 }, { t: 'complete', id: 1, subtask: 2 }, { t: 'stop' }]);
    box.deliver({ t: 'close', subtask: 0 });
    expect(got[0]).toEqual([{ t: 'trigger', id: 1, subtask: 0 }, { t: 'stop' }, { t: 'close', subtask: 0 }]);
    expect(got[2]).toHaveLength(3);
  });

  it('refuses a message for a subtask the thread does not host', () => {
    const box = new SubtaskMailbox([1]);
    expect(() => box.deliver({ t: 'close', subtask: 3 })).toThrow(/subtask 3, which this thread does not host \(1\)/);
  });
});
