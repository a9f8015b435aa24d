/**
 * BitLocker keys are encrypted at rest (AES-256-GCM). The key comes from SNEAKERNET_SECRET_KEY (32 bytes, hex or
 * base64) or, for the embedded default, is generated once and kept in the settings table.
 */
import crypto from 'node:crypto';

export class SecretBox {
  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new RangeError('The secret key must be 32 bytes.');
  }
  seal(plain: string): string {
    const iv = crypto.randomBytes(12);
    const c = crypto.createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
    return ['v1', iv.toString('base64'), c.getAuthTag().toString('base64'), body.toString('base64')].join('.');
  }
  open(sealed: string): string {
    const [v, iv, tag, body] = sealed.split('.');
    if (v !== 'v1' || !iv || !tag || body === undefined) throw new Error('Not a sealed secret.');
    const d = crypto.createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64'));
    d.setAuthTag(Buffer.from(tag, 'base64'));
    return Buffer.concat([d.update(Buffer.from(body, 'base64')), d.final()]).toString('utf8');
  }
}

export function parseSecretKey(text: string): Buffer {
  const t = text.trim();
  const buf = /^[0-9a-f]{64}$/i.test(t) ? Buffer.from(t, 'hex') : Buffer.from(t, 'base64');
  if (buf.length !== 32) throw new RangeError('SNEAKERNET_SECRET_KEY must be 32 bytes, as 64 hex digits or base64.');
  return buf;
}

export const hashToken = (token: string) => crypto.createHash('sha256').update(token).digest('hex');
