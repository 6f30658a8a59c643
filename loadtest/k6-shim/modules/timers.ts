/** k6/timers are the event loop's own timers; here, Node's. */
const { setTimeout, clearTimeout, setInterval, clearInterval } = globalThis;
export { setTimeout, clearTimeout, setInterval, clearInterval };
export default { setTimeout, clearTimeout, setInterval, clearInterval };
