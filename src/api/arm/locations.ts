/**
 * Data-center locations (where customers ship drives). They come from configuration: a JSON file named by
 * SNEAKERNET_LOCATIONS (config.locationsFile) with an array of locations; without one, sneakernet offers the
 * public Azure region names, so Azure tooling that sends `westus` or `West US` works unchanged, all pointing at
 * one local data center whose address the operator should configure.
 */
import fs from 'node:fs';
import { DomainError } from '../../domain/errors.ts';

export interface DataCenterAddress {
  recipientName: string;
  streetAddress1: string;
  streetAddress2?: string;
  city: string;
  stateOrProvince?: string;
  postalCode: string;
  countryOrRegion: string;
  phone: string;
  additionalShippingInformation?: string;
}

export interface LocationInfo {
  /** Short id, e.g. `westus`. */
  shortName: string;
  /** Display name, e.g. `West US`. */
  name: string;
  address: DataCenterAddress;
  supportedCarriers: string[];
  /** Short names of locations to ship to instead (itself when open). */
  alternateLocations: string[];
}

export const LOCATION_TYPE = 'Microsoft.ImportExport/locations';
export const locationId = (shortName: string) => `/providers/Microsoft.ImportExport/locations/${shortName}`;

/** `West US`, `westus`, `WestUS` and the full id all name the same location. */
export const normaliseLocation = (s: string) => s.replace(/^\/providers\/Microsoft\.ImportExport\/locations\//i, '').replace(/[\s_-]+/g, '').toLowerCase();

const LOCAL_DATA_CENTER: DataCenterAddress = {
  recipientName: 'Sneakernet Import/Export Service',
  streetAddress1: 'Receiving dock (set the address in SNEAKERNET_LOCATIONS)',
  streetAddress2: '',
  city: 'Localhost',
  stateOrProvince: '',
  postalCode: '00000',
  countryOrRegion: 'Local',
  phone: '+1 000 000 0000',
  additionalShippingInformation: '',
};

const AZURE_REGIONS: Array<[string, string]> = [
  ['eastus', 'East US'], ['eastus2', 'East US 2'], ['centralus', 'Central US'], ['northcentralus', 'North Central US'],
  ['southcentralus', 'South Central US'], ['westcentralus', 'West Central US'], ['westus', 'West US'], ['westus2', 'West US 2'],
  ['westus3', 'West US 3'], ['canadacentral', 'Canada Central'], ['canadaeast', 'Canada East'], ['brazilsouth', 'Brazil South'],
  ['northeurope', 'North Europe'], ['westeurope', 'West Europe'], ['uksouth', 'UK South'], ['ukwest', 'UK West'],
  ['francecentral', 'France Central'], ['germanywestcentral', 'Germany West Central'], ['switzerlandnorth', 'Switzerland North'],
  ['norwayeast', 'Norway East'], ['swedencentral', 'Sweden Central'], ['eastasia', 'East Asia'], ['southeastasia', 'Southeast Asia'],
  ['japaneast', 'Japan East'], ['japanwest', 'Japan West'], ['koreacentral', 'Korea Central'], ['koreasouth', 'Korea South'],
  ['australiaeast', 'Australia East'], ['australiasoutheast', 'Australia Southeast'], ['australiacentral', 'Australia Central'],
  ['centralindia', 'Central India'], ['southindia', 'South India'], ['westindia', 'West India'], ['uaenorth', 'UAE North'],
  ['southafricanorth', 'South Africa North'], ['qatarcentral', 'Qatar Central'], ['polandcentral', 'Poland Central'],
  ['italynorth', 'Italy North'],
];

export const DEFAULT_LOCATIONS: readonly LocationInfo[] = AZURE_REGIONS.map(([shortName, name]) => ({
  shortName,
  name,
  address: LOCAL_DATA_CENTER,
  supportedCarriers: ['FedEx', 'DHL', 'UPS'],
  alternateLocations: [shortName],
}));

export class LocationCatalog {
  private readonly byKey = new Map<string, LocationInfo>();
  constructor(readonly all: readonly LocationInfo[]) {
    for (const l of all) {
      this.byKey.set(normaliseLocation(l.shortName), l);
      this.byKey.set(normaliseLocation(l.name), l);
    }
  }
  find(nameOrId: string): LocationInfo | undefined {
    return this.byKey.get(normaliseLocation(nameOrId));
  }
}

const isStr = (v: unknown): v is string => typeof v === 'string';

/** Reads a locations file: `[{ "shortName", "name", "address": {...}, "supportedCarriers": [...], "alternateLocations"?: [...] }]`. */
export function loadLocations(file: string | undefined): LocationCatalog {
  if (!file) return new LocationCatalog(DEFAULT_LOCATIONS);
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new DomainError('InvalidInput', `The locations file ${file} cannot be read: ${(e as Error).message}`);
  }
  if (!Array.isArray(raw) || raw.length === 0) throw new DomainError('InvalidInput', `The locations file ${file} must hold a non-empty JSON array.`);
  const list = raw.map((l: Record<string, unknown>, i): LocationInfo => {
    const a = (l?.address ?? {}) as Record<string, unknown>;
    const required = ['recipientName', 'streetAddress1', 'city', 'postalCode', 'countryOrRegion', 'phone'];
    if (!isStr(l?.name) || !isStr(l?.shortName) || !/^[a-z0-9]{1,40}$/.test(l.shortName) || required.some((k) => !isStr(a[k]))) {
      throw new DomainError('InvalidInput', `Location #${i + 1} in ${file} needs name, shortName (lower-case letters and digits) and an address with ${required.join(', ')}.`);
    }
    const carriers = Array.isArray(l.supportedCarriers) ? l.supportedCarriers.filter(isStr) : ['FedEx', 'DHL'];
    const alternates = Array.isArray(l.alternateLocations) ? l.alternateLocations.filter(isStr) : [l.shortName];
    return { shortName: l.shortName, name: l.name, address: a as unknown as DataCenterAddress, supportedCarriers: carriers, alternateLocations: alternates };
  });
  return new LocationCatalog(list);
}
