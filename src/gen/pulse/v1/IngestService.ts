// Original file: proto/pulse/v1/ingest.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { SendRequest as _pulse_v1_SendRequest, SendRequest__Output as _pulse_v1_SendRequest__Output } from '../../pulse/v1/SendRequest.js';
import type { SendResponse as _pulse_v1_SendResponse, SendResponse__Output as _pulse_v1_SendResponse__Output } from '../../pulse/v1/SendResponse.js';

/**
 * Event ingestion for servers. Requires scope `events:write`; the tenant comes from the key.
 * A call returns once NATS JetStream has stored the accepted events, so an accepted event is
 * never lost; UNAVAILABLE means the request was not acknowledged: retry it (events are
 * de-duplicated by message_id). Limits, as the HTTP collector: 32 KB an event and 500 KB a
 * request (as JSON); a larger request fails with RESOURCE_EXHAUSTED.
 */
export interface IngestServiceClient extends grpc.Client {
  /**
   * A batch: the valid events are stored, each event gets a result.
   */
  Send(argument: _pulse_v1_SendRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_SendResponse__Output>): grpc.ClientUnaryCall;
  Send(argument: _pulse_v1_SendRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_pulse_v1_SendResponse__Output>): grpc.ClientUnaryCall;
  Send(argument: _pulse_v1_SendRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_SendResponse__Output>): grpc.ClientUnaryCall;
  Send(argument: _pulse_v1_SendRequest, callback: grpc.requestCallback<_pulse_v1_SendResponse__Output>): grpc.ClientUnaryCall;
  /**
   * A batch: the valid events are stored, each event gets a result.
   */
  send(argument: _pulse_v1_SendRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_SendResponse__Output>): grpc.ClientUnaryCall;
  send(argument: _pulse_v1_SendRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_pulse_v1_SendResponse__Output>): grpc.ClientUnaryCall;
  send(argument: _pulse_v1_SendRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_SendResponse__Output>): grpc.ClientUnaryCall;
  send(argument: _pulse_v1_SendRequest, callback: grpc.requestCallback<_pulse_v1_SendResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Client streaming for high-volume producers: each request is validated and stored as it
   * arrives; the response (sent when the client ends the stream) lists only refused events,
   * indexed across the whole stream. On an error, the requests before it remain stored.
   */
  SendStream(metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_SendResponse__Output>): grpc.ClientWritableStream<_pulse_v1_SendRequest>;
  SendStream(metadata: grpc.Metadata, callback: grpc.requestCallback<_pulse_v1_SendResponse__Output>): grpc.ClientWritableStream<_pulse_v1_SendRequest>;
  SendStream(options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_SendResponse__Output>): grpc.ClientWritableStream<_pulse_v1_SendRequest>;
  SendStream(callback: grpc.requestCallback<_pulse_v1_SendResponse__Output>): grpc.ClientWritableStream<_pulse_v1_SendRequest>;
  /**
   * Client streaming for high-volume producers: each request is validated and stored as it
   * arrives; the response (sent when the client ends the stream) lists only refused events,
   * indexed across the whole stream. On an error, the requests before it remain stored.
   */
  sendStream(metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_SendResponse__Output>): grpc.ClientWritableStream<_pulse_v1_SendRequest>;
  sendStream(metadata: grpc.Metadata, callback: grpc.requestCallback<_pulse_v1_SendResponse__Output>): grpc.ClientWritableStream<_pulse_v1_SendRequest>;
  sendStream(options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_SendResponse__Output>): grpc.ClientWritableStream<_pulse_v1_SendRequest>;
  sendStream(callback: grpc.requestCallback<_pulse_v1_SendResponse__Output>): grpc.ClientWritableStream<_pulse_v1_SendRequest>;
  
}

/**
 * Event ingestion for servers. Requires scope `events:write`; the tenant comes from the key.
 * A call returns once NATS JetStream has stored the accepted events, so an accepted event is
 * never lost; UNAVAILABLE means the request was not acknowledged: retry it (events are
 * de-duplicated by message_id). Limits, as the HTTP collector: 32 KB an event and 500 KB a
 * request (as JSON); a larger request fails with RESOURCE_EXHAUSTED.
 */
export interface IngestServiceHandlers extends grpc.UntypedServiceImplementation {
  /**
   * A batch: the valid events are stored, each event gets a result.
   */
  Send: grpc.handleUnaryCall<_pulse_v1_SendRequest__Output, _pulse_v1_SendResponse>;
  
  /**
   * Client streaming for high-volume producers: each request is validated and stored as it
   * arrives; the response (sent when the client ends the stream) lists only refused events,
   * indexed across the whole stream. On an error, the requests before it remain stored.
   */
  SendStream: grpc.handleClientStreamingCall<_pulse_v1_SendRequest__Output, _pulse_v1_SendResponse>;
  
}

export interface IngestServiceDefinition extends grpc.ServiceDefinition {
  Send: MethodDefinition<_pulse_v1_SendRequest, _pulse_v1_SendResponse, _pulse_v1_SendRequest__Output, _pulse_v1_SendResponse__Output>
  SendStream: MethodDefinition<_pulse_v1_SendRequest, _pulse_v1_SendResponse, _pulse_v1_SendRequest__Output, _pulse_v1_SendResponse__Output>
}
