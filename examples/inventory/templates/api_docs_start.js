// Starts Swagger UI on the API's document; requests it tries out carry the
// session cookie (same origin).
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/api/openapi.json",
    dom_id: "#swagger-ui",
    withCredentials: true,
  });
});
