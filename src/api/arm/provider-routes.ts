/** Provider-level ARM operations: Locations_List, Locations_Get, Operations_List. */
import { DomainError } from '../../domain/errors.ts';
import { armHeaders } from './common.ts';
import type { LocationCatalog } from './locations.ts';
import type { RouteSpec } from './route-table.ts';
import * as S from './schemas.ts';
import { locationToArm, OPERATIONS } from './serializers.ts';

const errors = { default: { description: 'ARM error body.', schema: S.errorResponse } };

export function providerRoutes(catalog: LocationCatalog): RouteSpec[] {
  return [
    {
      method: 'GET', url: '/providers/Microsoft.ImportExport/locations', operationId: 'Locations_List', tag: 'Locations', apiVersion: 'required',
      summary: 'Lists the data-center locations drives can be shipped to (from configuration).',
      querystring: S.apiVersionQuery,
      responses: { 200: { description: 'The locations.', schema: S.locationsResponse }, ...errors },
      handler: async (_req, reply) => armHeaders(reply).send({ value: catalog.all.map(locationToArm) }),
    },
    {
      method: 'GET', url: '/providers/Microsoft.ImportExport/locations/:locationName', operationId: 'Locations_Get', tag: 'Locations', apiVersion: 'required',
      summary: "Gets a location by name ('West US') or short id ('westus').",
      params: S.obj({ locationName: S.locationNameParam }, { required: ['locationName'] }), querystring: S.apiVersionQuery,
      responses: { 200: { description: 'The location.', schema: S.location }, ...errors },
      handler: async (req, reply) => {
        const name = (req.params as { locationName: string }).locationName;
        const loc = catalog.find(name);
        if (!loc) throw new DomainError('NotFound', `The location '${name.slice(0, 60)}' was not found.`);
        return armHeaders(reply).send(locationToArm(loc));
      },
    },
    {
      method: 'GET', url: '/providers/Microsoft.ImportExport/operations', operationId: 'Operations_List', tag: 'Operations', apiVersion: 'required',
      summary: 'Lists the operations of the Microsoft.ImportExport provider.',
      querystring: S.apiVersionQuery,
      responses: { 200: { description: 'The operations.', schema: S.operationsResponse }, ...errors },
      handler: async (_req, reply) => armHeaders(reply).send({ value: OPERATIONS }),
    },
  ];
}
