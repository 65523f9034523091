// dreg-book: a display equation wider than the content column (a phone) is scaled down to fit
// it, not given a scroll box; inline maths is never boxed (dreg.css). Runs once MathJax has
// typeset the page, and again when the window changes size.
(() => {
  const fit = () => {
    for (const eq of document.querySelectorAll('mjx-container[display="true"]')) {
      eq.style.fontSize = "";
      const over = eq.scrollWidth / eq.clientWidth;
      if (eq.clientWidth > 0 && over > 1.001) {
        eq.style.fontSize = `${(parseFloat(getComputedStyle(eq).fontSize) / over) * 0.98}px`;
      }
    }
  };
  window.addEventListener("load", () => {
    const typeset = window.MathJax && window.MathJax.startup && window.MathJax.startup.promise;
    (typeset || Promise.resolve()).then(fit);
  });
  window.addEventListener("resize", fit);
})();
