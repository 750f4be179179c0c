// Keyboard shortcuts: a key submits the form marked data-key="<key>" (n, a, b, r) or focuses the
// field marked with it (e, h). Typing in a field never triggers a shortcut.
document.addEventListener("keydown", (event) => {
  const target = event.target;
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (target instanceof HTMLElement && target.closest("input, textarea, select")) return;
  const marked = document.querySelector(`[data-key="${CSS.escape(event.key)}"]`);
  if (!marked) return;
  event.preventDefault();
  if (marked instanceof HTMLFormElement) marked.requestSubmit();
  else if (marked instanceof HTMLElement) marked.focus();
});
