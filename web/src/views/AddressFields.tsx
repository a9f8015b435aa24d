/** The return address fields of the ARM `ReturnAddress` model, labelled, with the required ones marked. */
export interface Address {
  recipientName: string;
  streetAddress1: string;
  streetAddress2?: string;
  city: string;
  stateOrProvince?: string;
  postalCode: string;
  countryOrRegion: string;
  phone: string;
  email: string;
}
export const emptyAddress: Address = { recipientName: '', streetAddress1: '', city: '', postalCode: '', countryOrRegion: '', phone: '', email: '' };

const FIELDS: Array<{ key: keyof Address; label: string; required: boolean; type?: string; auto?: string }> = [
  { key: 'recipientName', label: 'Recipient name', required: true, auto: 'name' },
  { key: 'streetAddress1', label: 'Street address', required: true, auto: 'address-line1' },
  { key: 'streetAddress2', label: 'Street address, line 2', required: false, auto: 'address-line2' },
  { key: 'city', label: 'City', required: true, auto: 'address-level2' },
  { key: 'stateOrProvince', label: 'State or province', required: false, auto: 'address-level1' },
  { key: 'postalCode', label: 'Postal code', required: true, auto: 'postal-code' },
  { key: 'countryOrRegion', label: 'Country or region', required: true, auto: 'country-name' },
  { key: 'phone', label: 'Phone', required: true, type: 'tel', auto: 'tel' },
  { key: 'email', label: 'E-mail', required: true, type: 'email', auto: 'email' },
];

export function AddressFields({ value, onChange, prefix = 'returnAddress' }: { value: Address; onChange: (a: Address) => void; prefix?: string }) {
  return (
    <div className="grid">
      {FIELDS.map((f) => (
        <label key={f.key}>
          {f.label}
          {f.required ? <span aria-hidden="true"> *</span> : ' (optional)'}
          <input
            name={`${prefix}.${f.key}`}
            type={f.type ?? 'text'}
            autoComplete={f.auto}
            required={f.required}
            value={value[f.key] ?? ''}
            onChange={(e) => onChange({ ...value, [f.key]: e.target.value })}
          />
        </label>
      ))}
    </div>
  );
}
