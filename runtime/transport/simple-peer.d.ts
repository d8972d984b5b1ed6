// simple-peer's browser bundle (its CommonJS entry needs Node globals under Vite), typed by @types/simple-peer.
declare module 'simple-peer/simplepeer.min.js' {
  import SimplePeer from 'simple-peer';
  export default SimplePeer;
}
