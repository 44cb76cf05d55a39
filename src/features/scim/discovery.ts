// What a SCIM client reads to learn this server (RFC 7643 §5–7, RFC 7644 §4): ServiceProviderConfig,
// ResourceTypes and Schemas. Fixed documents, with the tenant's base URL in their locations.
import { USER_SCHEMA } from './user-resource.ts';
import { MAX_COUNT } from './users.ts';

export const LIST_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
const SPC_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig';
const RESOURCE_TYPE_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:ResourceType';
const SCHEMA_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Schema';

const unsupported = { supported: false };

export function serviceProviderConfig(base: string) {
  return {
    schemas: [SPC_SCHEMA],
    patch: { supported: true },
    bulk: { ...unsupported, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults: MAX_COUNT },
    changePassword: unsupported,
    sort: unsupported,
    etag: unsupported,
    authenticationSchemes: [{
      type: 'oauthbearertoken', name: 'OAuth Bearer Token', primary: true,
      description: 'A SCIM token of this tenant (made by the operator or a tenant admin) as Authorization: Bearer.',
    }],
    meta: { resourceType: 'ServiceProviderConfig', location: `${base}/ServiceProviderConfig` },
  };
}

export function userResourceType(base: string) {
  return {
    schemas: [RESOURCE_TYPE_SCHEMA], id: 'User', name: 'User', endpoint: '/Users', description: 'A person of this tenant',
    schema: USER_SCHEMA, schemaExtensions: [],
    meta: { resourceType: 'ResourceType', location: `${base}/ResourceTypes/User` },
  };
}

interface Attribute { name: string; type: string; required?: boolean; caseExact?: boolean; multiValued?: boolean; mutability?: string; uniqueness?: string; description: string; subAttributes?: Attribute[]; }

const attribute = (a: Attribute): Record<string, unknown> => ({
  multiValued: false, required: false, caseExact: false, mutability: 'readWrite', returned: 'default', uniqueness: 'none', ...a,
  ...(a.subAttributes ? { subAttributes: a.subAttributes.map(attribute) } : {}),
});

/** The User attributes Keyturn keeps; any other attribute sent is ignored. */
export function userSchema(base: string) {
  return {
    schemas: [SCHEMA_SCHEMA], id: USER_SCHEMA, name: 'User', description: 'A person of this tenant',
    attributes: [
      attribute({ name: 'userName', type: 'string', required: true, uniqueness: 'server', description: "The user's email address: how they sign in and where their mail goes." }),
      attribute({ name: 'externalId', type: 'string', caseExact: true, description: "The identity provider's id for the user; unique in the tenant." }),
      attribute({
        name: 'name', type: 'complex', description: 'Kept as one name: formatted, or givenName and familyName joined by a space.',
        subAttributes: [
          { name: 'formatted', type: 'string', description: 'The full name.' },
          { name: 'givenName', type: 'string', description: 'The first word of the name.' },
          { name: 'familyName', type: 'string', description: 'The rest of the name.' },
        ],
      }),
      attribute({ name: 'displayName', type: 'string', description: 'The name shown (the same as name.formatted).' }),
      attribute({
        name: 'emails', type: 'complex', multiValued: true, description: 'The one address (userName), as the primary work email.',
        subAttributes: [
          { name: 'value', type: 'string', description: 'The address.' },
          { name: 'type', type: 'string', description: 'Always "work".' },
          { name: 'primary', type: 'boolean', description: 'Always true.' },
        ],
      }),
      attribute({ name: 'active', type: 'boolean', description: 'false: the account is disabled, and every session and app token it had is revoked.' }),
    ],
    meta: { resourceType: 'Schema', location: `${base}/Schemas/${USER_SCHEMA}` },
  };
}

/** A ListResponse of `resources`, all on one page (the discovery lists are short). */
export const listOf = (resources: unknown[]) => ({
  schemas: [LIST_SCHEMA], totalResults: resources.length, itemsPerPage: resources.length, startIndex: 1, Resources: resources,
});
