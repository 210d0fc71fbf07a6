import t from 'tap';
import { toStruct, toTimestamp } from '../../src/infra/struct.ts';

void t.test('toStruct maps every JSON kind', async (t) => {
  t.same(toStruct({}), { fields: {} });
  t.same(toStruct({
    s: 'x', n: 1.5, zero: 0, yes: true, no: false, nothing: null,
    list: [1, 'a', null, [true]], obj: { k: { deep: [] } },
  }), {
    fields: {
      s: { stringValue: 'x' },
      n: { numberValue: 1.5 },
      zero: { numberValue: 0 },
      yes: { boolValue: true },
      no: { boolValue: false },
      nothing: { nullValue: 'NULL_VALUE' },
      list: { listValue: { values: [{ numberValue: 1 }, { stringValue: 'a' }, { nullValue: 'NULL_VALUE' }, { listValue: { values: [{ boolValue: true }] } }] } },
      obj: { structValue: { fields: { k: { structValue: { fields: { deep: { listValue: { values: [] } } } } } } } },
    },
  });
});

void t.test('toStruct sets exactly one kind per value', async (t) => {
  const fields = toStruct({ a: '', b: 0, c: false }).fields ?? {};
  t.same(Object.keys(fields['a'] ?? {}), ['stringValue']);
  t.same(Object.keys(fields['b'] ?? {}), ['numberValue']);
  t.same(Object.keys(fields['c'] ?? {}), ['boolValue']);
});

void t.test('toTimestamp splits epoch milliseconds into seconds and nanos', async (t) => {
  t.same(toTimestamp(0), { seconds: '0', nanos: 0 });
  t.same(toTimestamp(999), { seconds: '0', nanos: 999_000_000 });
  t.same(toTimestamp(1000), { seconds: '1', nanos: 0 });
  t.same(toTimestamp(1_714_564_800_123), { seconds: '1714564800', nanos: 123_000_000 });
  t.same(toTimestamp(-1000), { seconds: '-1', nanos: 0 });
});

void t.test('times before 1970 keep nanos in 0..999,999,999', async (t) => {
  t.same(toTimestamp(-1), { seconds: '-1', nanos: 999_000_000 }, '-1 ms');
  t.same(toTimestamp(-5500), { seconds: '-6', nanos: 500_000_000 }, '-5.5 s');
});
