// Images logged with run.log_image, grouped by name, newest last.
import { h, replace } from "./dom.js";

/** Only inline images are shown: a data: URL of an image type, nothing else. */
export function safeImageSrc(src) {
  return typeof src === "string" && /^data:image\/(png|jpe?g|gif|webp|svg\+xml);base64,/i.test(src) ? src : null;
}

export function createGallery() {
  const el = h("div", { className: "rw-gallery" });
  function update(images) {
    const groups = new Map();
    for (const image of images || []) {
      if (!groups.has(image.name)) groups.set(image.name, []);
      groups.get(image.name).push(image);
    }
    replace(
      el,
      [...groups].map(([name, list]) =>
        h(
          "figure",
          { className: "rw-image-group" },
          h("figcaption", { text: list.length > 1 ? `${name} (${list.length})` : name }),
          h(
            "div",
            { className: "rw-images" },
            list.map((image) => {
              const src = safeImageSrc(image.src);
              const caption = image.step === null || image.step === undefined ? image.path : `step ${image.step}`;
              return h(
                "div",
                { className: "rw-image" },
                src ? h("img", { src, alt: `${name} ${caption}`, loading: "lazy", title: image.path }) : h("div", { className: "rw-image-missing", text: `${image.path} (${image.size} bytes)` }),
                h("div", { className: "rw-image-caption", text: caption }),
              );
            }),
          ),
        ),
      ),
    );
    el.hidden = !images || images.length === 0;
  }
  return { el, update };
}
