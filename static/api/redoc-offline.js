// Loaded before ReDoc on /api/redoc/. ReDoc's sidebar badge is an <img> of Redocly's logo on their CDN
// (Redocly/redoc#2141), the one thing the page would fetch from another host. React sets an image's src both as
// an attribute and as a property; either way that address becomes an empty data: URL, which fails to load at once,
// and ReDoc's own error handler then drops the badge, as it does offline.
"use strict";
(() => {
  const REDOCLY_CDN = "https://cdn.redoc.ly/";
  const local = (value) => (String(value).startsWith(REDOCLY_CDN) ? "data:," : value);

  const setAttribute = Element.prototype.setAttribute;
  Element.prototype.setAttribute = function (name, value) {
    const src = this instanceof HTMLImageElement && name.toLowerCase() === "src";
    return setAttribute.call(this, name, src ? local(value) : value);
  };
  const src = Object.getOwnPropertyDescriptor(HTMLImageElement.prototype, "src");
  Object.defineProperty(HTMLImageElement.prototype, "src", {
    ...src,
    set(value) {
      src.set.call(this, local(value));
    },
  });
})();
