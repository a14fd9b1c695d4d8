import type {
  FeatureViewSpec,
  KafkaSourceSpec,
  RepoSpec,
  StreamFeatureViewSpec,
} from '../../shared/definitions/types.ts';
import { createDecoder, type Decoder } from '../../shared/events/decode.ts';
import { type ViewLayout, viewLayout } from '../../shared/model/layout.ts';

/**
 * One feature view fed by a topic, with its decoder built once. A stream view's rows are its
 * events' source columns: the offline store keeps them as raw events and the online store folds
 * them into tiles (its layout carries the aggregations).
 */
export interface ViewRoute {
  view: FeatureViewSpec | StreamFeatureViewSpec;
  /** Join keys and features as the stores lay them out. */
  layout: ViewLayout;
  decoder: Decoder;
}

/** What the materializer consumes: per Kafka source, its topic and the views it feeds. */
export interface SourceRoute {
  source: KafkaSourceSpec;
  views: ViewRoute[];
}

/**
 * Resolves which views each Kafka source feeds: views declared on the source itself and
 * views declared on a push source whose batch source it is (pushes travel through the
 * Kafka topic so both stores see them in the same order as everything else).
 */
export function routesOf(spec: RepoSpec, only?: readonly string[]): SourceRoute[] {
  const pushToKafka = new Map(spec.pushSources.map((p) => [p.name, p.batchSource]));
  const entities = new Map(spec.entities.map((e) => [e.name, e]));
  const routes: SourceRoute[] = [];
  for (const source of spec.kafkaSources) {
    if (only && only.length > 0 && !only.includes(source.name)) continue;
    const views = [...spec.featureViews, ...(spec.streamFeatureViews ?? [])]
      .filter((v) => v.source === source.name || pushToKafka.get(v.source) === source.name)
      .filter((v) => v.online || v.offline)
      .map((view) => ({
        view,
        layout: viewLayout(view, spec.entities),
        decoder: createDecoder(
          view,
          view.entities.map((name) => entities.get(name)!),
          source,
        ),
      }));
    if (views.length > 0) routes.push({ source, views });
  }
  return routes;
}
