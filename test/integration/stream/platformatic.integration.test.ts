import { PlatformaticEventStream } from '../../../shared/stream/platformatic.ts';
import { streamPortSuite } from './stream-port.suite.ts';

streamPortSuite(
  'PlatformaticEventStream (@platformatic/kafka)',
  (brokers) => new PlatformaticEventStream(brokers),
);
