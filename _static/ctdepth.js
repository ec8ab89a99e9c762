// Click a figure to see it at full size (on a phone a figure is narrower than it was drawn).
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("div.cell_output img").forEach((img) => {
    img.style.cursor = "zoom-in";
    img.title = img.title || "Click to open the figure at full size";
    img.addEventListener("click", () => window.open(img.src, "_blank", "noopener"));
  });
});
