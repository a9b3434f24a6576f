import { test, expect } from 'vitest';
import { openVirtualCard } from '../../src/transport/virtual/virtual-transport.js';
import { fromHex, toHex } from '../../src/bytes/hex.js';

test('select', async () => {
  const t0 = Date.now();
  const { transport } = await openVirtualCard();
  console.log('create ms', Date.now() - t0);
  const r = await transport.transmit(fromHex('00A4040005A000000308'));
  expect(toHex(r.data)).toBe('61114F060000100001007907 4F05A000000308'.replace(/ /g, ''));
  const v = await transport.transmit(fromHex('00FD0000'));
  expect(toHex(v.data)).toBe('050702');
});
