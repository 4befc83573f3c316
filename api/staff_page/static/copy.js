// The page's one script: a "Copy" button copies the text of the field its data-copy names.
// Without it (or without the clipboard) the key is still there to select and copy by hand.
document.querySelectorAll("button[data-copy]").forEach(function (button) {
  button.hidden = false;
  button.addEventListener("click", function () {
    var field = document.getElementById(button.dataset.copy);
    var said = document.getElementById(button.dataset.copy + "-copied");
    field.select();
    navigator.clipboard.writeText(field.value).then(
      function () { said.textContent = "Copied."; },
      function () { said.textContent = "Could not copy: select the key and copy it by hand."; }
    );
  });
});
