import { KafkaEventStream } from '../../../shared/stream/kafka.ts';
import { streamPortSuite } from './stream-port.suite.ts';

streamPortSuite('KafkaEventStream (kafkajs)', (brokers) => new KafkaEventStream(brokers));
