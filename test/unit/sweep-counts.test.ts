import t from 'tap';
import { sweepCounts } from '../../processors/segment-clock.ts';

void t.test('sweepCounts counts merge and unmerge outcomes by what the sweeper did', async (t) => {
  t.same(sweepCounts([]), { finished: 0, aborted: 0, pending: 0 }, 'nothing swept');
  t.same(sweepCounts([{ status: 'finished' }, { status: 'none' }, { status: 'aborted' }, { status: 'pending' }, { status: 'undone' }, { status: 'finished' }]),
    { finished: 2, aborted: 2, pending: 1 }, 'an unmerge taken back (undone) counts as aborted; none is not counted');
});
