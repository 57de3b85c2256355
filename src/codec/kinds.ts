// The data model of each Kind this node knows before any configuration arrives (RFC 6940
// §7.2, §8, §9; RFC 7904 §7; RFC 7374 §7.1). The configuration document adds its own kinds.
import { KindId } from './codes.ts';
import type { DataModel, DataModels } from './stored-data.ts';

export const BASE_DATA_MODELS: DataModels = new Map<number, DataModel>([
  [KindId.SIP_REGISTRATION, 'dictionary'],
  [KindId.TURN_SERVICE, 'single'],
  [KindId.CERTIFICATE_BY_NODE, 'array'],
  [KindId.CERTIFICATE_BY_USER, 'array'],
  [KindId.REDIR, 'dictionary'],
]);
