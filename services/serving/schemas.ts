/** JSON schemas shared by the serving routes (and so by the OpenAPI document). */

export const errorResponse = {
  type: 'object',
  description: 'Every 4xx and 5xx answer',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string', example: 'TRIB_UNKNOWN_FEATURE' }, message: { type: 'string' } },
    },
  },
} as const;

/** Error responses every route can give. */
export const errorResponses = {
  400: errorResponse,
  401: errorResponse,
  413: errorResponse,
  415: errorResponse,
  500: errorResponse,
  503: errorResponse,
} as const;

export const featureSelection = {
  features: {
    type: 'array',
    items: { type: 'string' },
    description: 'Feature references `feature_view:feature`',
    example: ['driver_hourly_stats:conv_rate', 'driver_hourly_stats:acc_rate'],
  },
  feature_service: { type: 'string', description: 'A feature service name (instead of `features`)' },
  full_feature_names: {
    type: 'boolean',
    default: false,
    description: 'Name output columns `feature_view__feature` instead of `feature`',
  },
} as const;

/** Entity columns: join key name → values (one per entity row). */
export const entityColumns = {
  type: 'object',
  additionalProperties: { type: 'array' },
  example: { driver_id: [1001, 1002] },
} as const;
