import { describe, expect, it } from 'vitest';
import { diagnosticsBlobName, logTimestamp, renamedBlobName } from '../../src/transfer/naming.ts';

describe('naming', () => {
  it('formats log blob names like the documented example', () => {
    const at = new Date(Date.UTC(2013, 8, 21, 3, 43, 7, 902));
    expect(logTimestamp(at)).toBe('20130921-034307-902');
    expect(diagnosticsBlobName('myjob', '9WM35C2V', at, 'error')).toBe('waies/myjob_9WM35C2V_20130921-034307-902_error.xml');
  });

  it('renames per the rename disposition', () => {
    expect(renamedBlobName('pics/Seattle.jpg', 2)).toBe('pics/Seattle (2).jpg');
    expect(renamedBlobName('Seattle.jpg', 3)).toBe('Seattle (3).jpg');
    expect(renamedBlobName('a.b/BlobNameWithoutDot', 2)).toBe('a.b/BlobNameWithoutDot (2)');
    expect(renamedBlobName('archive.tar.gz', 2)).toBe('archive.tar (2).gz');
  });
});
