/**
 * The package root: what feature repositories and client code import from 'tributary'.
 */

// Feature definitions: the declaration API of feature repositories (see docs/definitions.md).
export type {
  AggregationInput,
  AggregationNamesOf,
  EntityDeclaration,
  EntityInput,
  FeatureNamesOf,
  FeatureReference,
  FeatureServiceDeclaration,
  FeatureServiceInput,
  FeatureViewDeclaration,
  FeatureViewInput,
  FeatureViewProjection,
  FieldInput,
  KafkaSourceDeclaration,
  KafkaSourceInput,
  MonitorDeclaration,
  MonitorInput,
  PushSourceDeclaration,
  PushSourceInput,
  SchemaInput,
  StreamFeatureViewDeclaration,
  StreamFeatureViewInput,
} from './definitions/declare.ts';
export {
  entity,
  featureService,
  featureView,
  kafkaSource,
  monitor,
  pushSource,
  streamFeatureView,
} from './definitions/declare.ts';
export type * from './definitions/types.ts';
export * from './errors.ts';
