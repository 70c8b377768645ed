// Starts Swagger UI on /api/docs (app/docs.py). A file of its own, not an inline <script>:
// the page's Content-Security-Policy runs scripts from this origin's files only.
"use strict";

(function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    domNode: root,
    presets: [SwaggerUIBundle.presets.apis],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    layout: "BaseLayout",
    deepLinking: true,
    // SDK authors look operations up by their operationId
    displayOperationId: true,
    filter: true,
    // no call to the public validator badge service: the page works offline
    validatorUrl: null,
    // a pasted bearer token lives in this tab only, never in localStorage
    persistAuthorization: false,
  });
})();
