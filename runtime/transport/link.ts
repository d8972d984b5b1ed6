// What the mesh needs of one link to another tab: a WebRTC data channel in the browser
// (`peer-link.ts`), an in-memory pair in unit tests (`memory-link.ts`). Opened by signals relayed
// through the signaling server, it carries PeerMessages on a control lane and a bulk lane.

import type { NodeId } from '../protocol/ids.ts';
import type { PeerMessage } from '../protocol/peer-messages.ts';
import type { RtcConfig } from '../protocol/rtc-config.ts';

export interface LinkOptions {
  readonly self: NodeId;
  readonly remote: NodeId;
  /** This side opens the link (sends the offer); the other side answers. */
  readonly initiator: boolean;
  /** Passed to RTCPeerConnection: ICE servers, transport policy (checked: protocol/rtc-config.ts). */
  readonly rtcConfig: RtcConfig;
  /** Sends a signal (offer, answer, candidate) to the remote tab through the signaling server. */
  readonly signal: (data: unknown) => void;
  readonly onMessage: (msg: PeerMessage) => void;
  /** Called once, when the link closes from either side or fails to connect. */
  readonly onClose: (reason: string) => void;
}

export interface Link {
  readonly remote: NodeId;
  /** Resolves once the link is open; rejects when it closes or times out first. */
  ready(): Promise<void>;
  readonly isOpen: boolean;
  /** Feeds a signal from the remote tab. */
  signal(data: unknown): void;
  /** A small message on the control lane (batched). */
  send(msg: PeerMessage): void;
  /**
   * A large message (an object) on the bulk lane, behind control traffic. `onSent` is called once
   * its last frame is handed to the channel, or the link closes first (its bytes are let go).
   */
  sendBulk(msg: PeerMessage, onSent?: () => void): void;
  close(reason: string): void;
  /**
   * Counts something the peer should never have sent (an unauthorised or excess request), as the
   * inbox counts malformed messages: at PEER_STRIKE_LIMIT the link is cut off.
   */
  strike(what: string): void;
  /** The link was cut because the peer sent too many malformed frames or messages (inbox.ts). */
  readonly cutOff: boolean;
  /** Bytes sent and received, for the volunteer page's figures. */
  readonly bytesSent: number;
  readonly bytesReceived: number;
}

export type LinkFactory = (opts: LinkOptions) => Link;
