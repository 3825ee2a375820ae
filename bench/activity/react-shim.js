// A stand-in for "react" and "react/jsx-runtime", just enough to mount react-idle-timer's
// `useIdleTimer` hook once, outside a React tree (react-idle-timer 5 has no `createIdleTimer`;
// see BENCHMARKS.md). It mounts the way React does on a first render: the hook runs once, refs are
// plain objects, memos and callbacks are computed once, and the effects run after it returns, in
// order; unmounting runs their cleanups. The hook never sets state, so nothing re-renders, and the
// listener it attaches to `document` is the library's own code, unchanged.

let effects = null;

export function useRef(initial) {
  return { current: initial };
}
export function useMemo(make) {
  return make();
}
export function useCallback(callback) {
  return callback;
}
export function useEffect(effect) {
  if (!effects) throw new Error("react-shim: useEffect outside mount()");
  effects.push(effect);
}
export const useLayoutEffect = useEffect;
export function createContext(defaultValue) {
  return { _default: defaultValue, Provider: null, Consumer: null };
}
export function useContext(context) {
  return context._default;
}
export class Component {}
export function forwardRef(render) {
  return render;
}
export function jsx() {
  throw new Error("react-shim: no rendering");
}
export const jsxs = jsx;
export const Fragment = Symbol("Fragment");
export default { useRef, useMemo, useCallback, useEffect, useLayoutEffect, createContext, useContext, Component, forwardRef };

/** Mounts `hook(props)` once; returns its value and an `unmount()` that runs the cleanups. */
export function mount(hook, props) {
  effects = [];
  let value;
  try {
    value = hook(props);
  } finally {
    var mounted = effects;
    effects = null;
  }
  const cleanups = mounted.map((effect) => effect()).filter((c) => typeof c === "function");
  return {
    value,
    unmount() {
      for (const cleanup of cleanups) cleanup();
    },
  };
}
