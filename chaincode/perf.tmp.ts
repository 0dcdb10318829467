import { canonicalBytes, leafHash, sha256 } from '@lianzheng/proof';
import { buildEntry, ContractDriver, testRecordId, villageRoadProject } from '@lianzheng/chaincode/testing';
const d = new ContractDriver();
await d.init();
await d.register(villageRoadProject('P1'));
const N = 5000;
let n = 0;
for (let round = 0; round < 4; round++) {
  const entries = Array.from({ length: N }, () => buildEntry({ id: testRecordId(++n), projectId: 'P1', kind: 'construction_log', details: { title: 'log' } }));
  const json = JSON.stringify({ fromSize: d.size, records: entries });
  let t = performance.now();
  const r = await d.submit('RecordBatch', [json]);
  const dt = performance.now() - t;
  d.size = (r.result as any).toSize;
  t = performance.now();
  const parsed = JSON.parse(json);
  for (const e of parsed.records) { leafHash(canonicalBytes(e.record)); sha256(canonicalBytes(e.details)); }
  const base = performance.now() - t;
  console.log(`batch ${N}: ${dt.toFixed(0)} ms → ${(N / dt * 1000).toFixed(0)} rec/s, writes ${r.writes.length}; baseline ${base.toFixed(0)} ms → ratio ${(base/dt).toFixed(2)}`);
}
