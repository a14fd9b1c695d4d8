/**
 * Point-in-time retrieval planning, pure: which feature views a request touches, which of their
 * features, which join keys the entity rows must carry, and what the output columns are called.
 * Online lookups and historical retrieval share it, so both resolve references and services the
 * same way and fail with the same codes. No store is touched here.
 */
import type {
  AggregationSpec,
  FeatureViewSpec,
  RepoSpec,
  StreamFeatureViewSpec,
  ValueType,
} from '../definitions/types.ts';
import { TributaryError } from '../errors.ts';
import { type ColumnLayout, type ViewLayout, viewLayout } from '../model/layout.ts';

/** A parsed `view:feature` reference. */
export interface FeatureRef {
  view: string;
  feature: string;
}

/** What a request asks for: feature references or a feature service, never both. */
export interface FeatureSelection {
  features?: readonly string[] | undefined;
  featureService?: string | undefined;
  fullFeatureNames?: boolean | undefined;
}

/** One requested feature and the column it becomes in the output. */
export interface PlannedFeature {
  /** The feature's name in the view (and the offline table column). */
  name: string;
  type: ValueType;
  /** `view__feature` with full feature names, else the bare feature name. */
  outputName: string;
  /** The `view:feature` reference as Feast spells it. */
  ref: string;
  /**
   * Index of the feature in the view's schema (the order of `OnlineRecord.values`); for a
   * stream view, in its aggregations (the online store answers them in that order).
   */
  schemaIndex: number;
  /** What computes the feature, when its view is a stream view. */
  aggregation?: AggregationSpec;
}

/** One feature view a request touches, with the features taken from it in request order. */
export interface PlannedView {
  spec: FeatureViewSpec | StreamFeatureViewSpec;
  layout: ViewLayout;
  features: PlannedFeature[];
}

/** Everything a store needs to answer a request. */
export interface RetrievalPlan {
  /** Views in order of first appearance in the request. */
  views: PlannedView[];
  /** Every join key any of the views needs, in order of first appearance; types agree across views. */
  joinKeys: ColumnLayout[];
  /** Every feature, in request order (a feature service lists its entries' features in declaration order). */
  features: (PlannedFeature & { view: string })[];
}

export type RetrievalPurpose = 'online' | 'offline';

const REF_PATTERN = /^([^:\s]+):([^:\s]+)$/;

/** Parses `view:feature`; throws TRIB_UNKNOWN_FEATURE for anything else. */
export function parseFeatureRef(ref: string): FeatureRef {
  const match = REF_PATTERN.exec(ref);
  if (!match) {
    throw new TributaryError(
      'TRIB_UNKNOWN_FEATURE',
      `feature reference '${ref}' is not of the form 'feature_view:feature'`,
      { details: { feature: ref } },
    );
  }
  return { view: match[1]!, feature: match[2]! };
}

/** The output column name of a feature: `view__feature` with full feature names, else `feature`. */
export function outputNameOf(view: string, feature: string, fullFeatureNames: boolean): string {
  return fullFeatureNames ? `${view}__${feature}` : feature;
}

/** A plain or stream feature view by name (they share one namespace). */
function findView(repo: RepoSpec, name: string): FeatureViewSpec | StreamFeatureViewSpec | undefined {
  return (
    repo.featureViews.find((v) => v.name === name) ?? repo.streamFeatureViews?.find((v) => v.name === name)
  );
}

/** The features a view serves, in order: a plain view's schema, a stream view's aggregations. */
function featuresOf(view: FeatureViewSpec | StreamFeatureViewSpec): { name: string; type: ValueType }[] {
  return view.kind === 'streamFeatureView' ? view.aggregations : view.schema;
}

/** Expands a selection (references or a service) into references, in order; throws coded errors for unknown names. */
export function resolveFeatureRefs(repo: RepoSpec, selection: FeatureSelection): FeatureRef[] {
  const hasFeatures = selection.features !== undefined;
  const hasService = selection.featureService !== undefined;
  if (hasFeatures === hasService) {
    throw new TributaryError('TRIB_BAD_REQUEST', "give exactly one of 'features' and 'feature_service'");
  }
  if (hasFeatures) {
    const refs = selection.features!.map(parseFeatureRef);
    if (refs.length === 0) throw new TributaryError('TRIB_BAD_REQUEST', "'features' must not be empty");
    return refs;
  }
  const name = selection.featureService!;
  const service = repo.featureServices.find((s) => s.name === name);
  if (!service) {
    throw new TributaryError('TRIB_UNKNOWN_FEATURE_SERVICE', `no feature service named '${name}'`, {
      details: { feature_service: name },
    });
  }
  const refs: FeatureRef[] = [];
  for (const entry of service.features) {
    const view = findView(repo, entry.featureView);
    if (!view) {
      throw new TributaryError(
        'TRIB_UNKNOWN_FEATURE_VIEW',
        `feature service '${name}' uses unknown feature view '${entry.featureView}'`,
        { details: { feature_service: name, feature_view: entry.featureView } },
      );
    }
    const names = entry.features ?? featuresOf(view).map((f) => f.name);
    for (const feature of names) refs.push({ view: view.name, feature });
  }
  return refs;
}

/**
 * Plans a retrieval: resolves the selection against `repo`, groups features by view, collects
 * the join keys and names the output columns. Throws TRIB_UNKNOWN_FEATURE_VIEW / TRIB_UNKNOWN_FEATURE
 * / TRIB_UNKNOWN_FEATURE_SERVICE for unknown names and TRIB_BAD_REQUEST for output name collisions
 * (as Feast does: ask for full feature names) or a view that is not served for `purpose`.
 */
export function planRetrieval(
  repo: RepoSpec,
  selection: FeatureSelection,
  purpose: RetrievalPurpose,
): RetrievalPlan {
  const full = selection.fullFeatureNames === true;
  const refs = resolveFeatureRefs(repo, selection);
  const views = new Map<string, PlannedView>();
  const features: RetrievalPlan['features'] = [];
  const outputNames = new Map<string, string>();
  for (const ref of refs) {
    let planned = views.get(ref.view);
    if (!planned) {
      const spec = findView(repo, ref.view);
      if (!spec) {
        throw new TributaryError('TRIB_UNKNOWN_FEATURE_VIEW', `no feature view named '${ref.view}'`, {
          details: { feature_view: ref.view },
        });
      }
      if (purpose === 'online' && !spec.online) {
        throw new TributaryError('TRIB_BAD_REQUEST', `feature view '${spec.name}' is not served online`, {
          details: { feature_view: spec.name },
        });
      }
      if (purpose === 'offline' && !spec.offline) {
        throw new TributaryError('TRIB_BAD_REQUEST', `feature view '${spec.name}' is not stored offline`, {
          details: { feature_view: spec.name },
        });
      }
      planned = { spec, layout: viewLayout(spec, repo.entities), features: [] };
      views.set(ref.view, planned);
    }
    const served = featuresOf(planned.spec);
    const schemaIndex = served.findIndex((f) => f.name === ref.feature);
    const field = served[schemaIndex];
    if (!field) {
      throw new TributaryError(
        'TRIB_UNKNOWN_FEATURE',
        `feature view '${ref.view}' has no feature '${ref.feature}'`,
        { details: { feature: `${ref.view}:${ref.feature}` } },
      );
    }
    const outputName = outputNameOf(ref.view, ref.feature, full);
    const refText = `${ref.view}:${ref.feature}`;
    const clash = outputNames.get(outputName);
    if (clash !== undefined) {
      throw new TributaryError(
        'TRIB_BAD_REQUEST',
        clash === refText
          ? `feature '${refText}' is requested twice`
          : `features '${clash}' and '${refText}' would both be named '${outputName}': set full_feature_names`,
        { details: { feature: refText } },
      );
    }
    outputNames.set(outputName, refText);
    const feature: PlannedFeature = {
      name: field.name,
      type: field.type,
      outputName,
      ref: refText,
      schemaIndex,
    };
    if (planned.spec.kind === 'streamFeatureView')
      feature.aggregation = planned.spec.aggregations[schemaIndex]!;
    planned.features.push(feature);
    features.push({ ...feature, view: ref.view });
  }

  const joinKeys: ColumnLayout[] = [];
  for (const { layout } of views.values()) {
    for (const key of layout.joinKeys) {
      const seen = joinKeys.find((k) => k.name === key.name);
      if (!seen) joinKeys.push(key);
      else if (seen.type !== key.type) {
        throw new TributaryError(
          'TRIB_BAD_REQUEST',
          `join key '${key.name}' is ${seen.type} in one requested view and ${key.type} in '${layout.name}'`,
          { details: { join_key: key.name } },
        );
      }
    }
  }
  for (const feature of features) {
    if (joinKeys.some((k) => k.name === feature.outputName) || feature.outputName === 'event_timestamp') {
      throw new TributaryError(
        'TRIB_BAD_REQUEST',
        `feature '${feature.ref}' would be named '${feature.outputName}' like an entity column: set full_feature_names`,
        { details: { feature: feature.ref } },
      );
    }
  }
  return { views: [...views.values()], joinKeys, features };
}
