// DTMF, both ways: RFC 4733 telephone-event packets (codec, sender, receiver) and the SIP
// INFO bodies some peers use instead.
export * from './telephone-event.ts';
export * from './dtmf-sender.ts';
export * from './dtmf-receiver.ts';
export * from './dtmf-info.ts';
