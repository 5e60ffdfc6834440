using UnityEngine;

namespace Cadenza.Samples.Movement
{
    /// <summary>Reads the legacy input axes once per frame for the movement components.</summary>
    public class PlayerInputReader : MonoBehaviour
    {
        [SerializeField] private string horizontalAxis = "Horizontal";
        [SerializeField] private string verticalAxis = "Vertical";
        [SerializeField] private KeyCode jumpKey = KeyCode.Space;

        /// <summary>The movement input of this frame, each axis in [-1, 1].</summary>
        public Vector2 Move { get; private set; }

        public bool JumpPressed { get; private set; }

        private void Update()
        {
            Move = Vector2.ClampMagnitude(new Vector2(Input.GetAxis(horizontalAxis), Input.GetAxis(verticalAxis)), 1f);
            JumpPressed = Input.GetKeyDown(jumpKey);
        }
    }
}
